"""The Hugging Face Hub: loading generators by folder or repo id with offline fallbacks (loader),
model cards (card), publishing a weights folder (publish) and deploying the app as a Space (space)."""
