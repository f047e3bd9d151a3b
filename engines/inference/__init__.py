"""Inference outside training, one module per job.

* ``loading``: a trained model (run dir, checkpoint or exported ``.onnx``) and its predictor
* ``predict``: masks for a folder of images through that predictor
* ``sliding_window``: tiled logits of large images with blended overlaps
* ``scoring``: a folder of predicted masks against the truth, the mIoU of training
* ``features``: a classifier's second-last-layer features (t-SNE)
* ``export``: ONNX export with the metadata a deployed model needs
* ``onnx_model``: an exported file under ONNX Runtime
* ``layout``: which dataset a tool works with (a run's, a named one, the default) and its folder layout
"""
from ignite_zoo.engines.inference.features import Features, extract_features
from ignite_zoo.engines.inference.layout import MaskDataset, dataset_info, mask_dataset, run_recipe
from ignite_zoo.engines.inference.loading import (
    TrainedModel,
    eval_pipeline,
    hold_in_bf16,
    load_predictor,
    load_trained,
    val_batch_size,
)
from ignite_zoo.engines.inference.predict import PredictResult, predict_folder
from ignite_zoo.engines.inference.scoring import MostlyUnknownWarning, evaluate_folders, match_mask_folders
from ignite_zoo.engines.inference.sliding_window import sliding_window_logits, window_weights

__all__ = [
    "Features", "extract_features", "MaskDataset", "dataset_info", "mask_dataset", "run_recipe", "TrainedModel",
    "eval_pipeline", "hold_in_bf16", "load_predictor", "load_trained", "val_batch_size",
    "PredictResult", "predict_folder", "MostlyUnknownWarning",
    "evaluate_folders", "match_mask_folders", "sliding_window_logits", "window_weights",
]
