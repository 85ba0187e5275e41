"""The training engine: data split and scaling, the models, the stacked seeds, the training loop."""
