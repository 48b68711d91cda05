"""Human rating: sessions, agreement, leaderboards, metric trust and training data."""
