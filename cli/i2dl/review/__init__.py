"""The TAs' grading queue: grouped free-text answers, rubric items applied to groups, marks in SQLite."""
