"""The plan of a push: who is expected and which rule applies (`people`), what each record holds
(`values`), and who is recorded as its creator (`actor`). Typed values and querysets; no write."""
