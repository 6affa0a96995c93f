"""Schema review: alignment, drift, index coverage and advice, data health — measured."""

from memvault.review.markdown import render_markdown
from memvault.review.report import Models, Review, load_catalog, review

__all__ = ["Models", "Review", "load_catalog", "render_markdown", "review"]
