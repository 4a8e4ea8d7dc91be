"""The roadseg Processing provider: segment, vectorise and train as algorithms."""
