from django.contrib.auth.hashers import PBKDF2PasswordHasher


class FastPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """A real PBKDF2 with few iterations: a stronger preferred hasher than the suite's MD5."""

    iterations = 1000
