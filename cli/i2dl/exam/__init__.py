"""The exam: the model (model.py), building it from a blueprint or spec (build.py), exam.json (data.py).

Files for people (the sheet, the key, the answer file) are exporters' work: see `i2dl.export`.
"""

from i2dl.exam.build import build_exam, fresh_seed, problem_seed
from i2dl.exam.data import EXAM_FILE, exam_to_data, load_exam, spec_changes, write_exam_data
from i2dl.exam.model import Exam

__all__ = ["EXAM_FILE", "Exam", "build_exam", "exam_to_data", "fresh_seed", "load_exam", "problem_seed",
           "spec_changes", "write_exam_data"]
