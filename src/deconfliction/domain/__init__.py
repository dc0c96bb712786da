"""The domain: model, vocabulary and pure functions. No I/O lives here."""
