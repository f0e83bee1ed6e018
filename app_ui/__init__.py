"""The app's tabs: one module per tab (layout + thin handlers), plus what they share: the model list
(sources) and the rest (common)."""
