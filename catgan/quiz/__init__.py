"""The "which cat is real?" quiz: real photos and fair pairs, answers in SQLite and the fooled
rates (store), a human pace per session and address (limits), answers kept on the Hub (sync)."""
