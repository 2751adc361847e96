"""Natural-language understanding: intents and entities in Rasa's ``/model/parse`` shape."""
