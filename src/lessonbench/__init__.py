"""lessonbench: the training-tricks lesson on sklearn digits, measured over seeds."""

__version__ = "0.1.0"
