"""Task scorers: (full-dimension vectors, views) → one score per view, vectorised over views."""
