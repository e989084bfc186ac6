"""tca_trainer: the Python side of the TCA4Rec pipeline.

- `shards`: the NumPy + zstandard reader of the soft-label MDS shards;
- `artifact`, `data`, `loss`, `model`, `evaluate`, `train`: the trainer (`python -m tca_trainer.train`);
- `convert_sasrec`, `safetensors_io`, `sasrec_reference`: the cf stage's SASRec helpers.
"""
