"""Local emulators of the carriers and of the platforms' shipping calls."""
