"""End-to-end tests of the Telegram channel against telegram-test-api, plus its unit tests."""
