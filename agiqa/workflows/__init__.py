"""Job kinds: a user's validated config turned into stages and passes for the runner."""
