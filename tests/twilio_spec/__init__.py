"""The part of Twilio's OpenAPI description the contract tests check against, and its source."""
