"""The app's tabs: one module per tab (layout + thin handlers), the models behind one object
(model: the app.py/model.py split), and what they share: the model list (sources), the guards
(guard: bounded input, one error scrubber, one temp-file manager) and the rest (common)."""
