"""Built-in profiles, shipped from the repository profiles/ folder as probe.profiles."""
