"""The book's runtime: chapter set-up (`setup`, `Session`), figures, interactive widgets,
and the paper's printed tables beside ours."""

from .session import Session, Trained, compare_table, in_colab, setup, show_plotly

__all__ = ["setup", "Session", "Trained", "compare_table", "show_plotly", "in_colab"]
