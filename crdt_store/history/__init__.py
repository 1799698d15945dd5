"""Version history of notes: authorship, and what changed since this user last looked."""
