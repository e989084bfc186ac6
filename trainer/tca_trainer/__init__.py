"""tca_trainer: the Python side of the TCA4Rec pipeline (checkpoint conversion now; the trainer in issue 7)."""
