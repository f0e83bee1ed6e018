"""The "which cat is real?" quiz: real photos and each visitor's shuffle of them (photos), fair pairs
(pairs), answers in SQLite and the fooled rates (store), a human pace per session and address
(limits), answers kept on the Hub (sync), and the quiz as data for the app (session)."""
from .pairs import PAIR_PX, SIDES, Pair, View, make_pair, present, random_view, write_uniform_png
from .photos import HOW_TO_ADD, PHOTO_PATTERNS, QuizError, next_photo, real_photos, resolve_real_source
from .store import (
                    ANSWER_ID,
                    MAX_MODELS,
                    MODEL_NAME,
                    RESOLUTIONS,
                    QuizStore,
                    Recorded,
                    default_db_path,
                    valid_answer,
                    valid_model,
)

__all__ = ["ANSWER_ID", "HOW_TO_ADD", "MAX_MODELS", "MODEL_NAME", "PAIR_PX", "PHOTO_PATTERNS", "RESOLUTIONS", "SIDES",
           "Pair", "QuizError", "QuizStore", "Recorded", "View", "default_db_path", "make_pair", "next_photo",
           "present", "random_view", "real_photos", "resolve_real_source", "valid_answer", "valid_model",
           "write_uniform_png"]
