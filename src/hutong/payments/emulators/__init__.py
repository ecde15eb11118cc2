"""Local emulators of the payment providers: the provider's side of each protocol, offline."""
