"""Grading: reading students' answers, comparing them with the key, and awarding credit."""
