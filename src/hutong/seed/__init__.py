"""The article's world as data: platforms, their schemes and domains, the link-policy history."""
