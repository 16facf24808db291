"""User-facing errors: the CLIs print these as one line, never as a stack trace."""


class UserError(Exception):
    """A mistake in the user's input (config, data, weights); the message says what and where."""


class DataError(UserError):
    """A list file, folder or image that cannot be used as given."""


class ConfigError(UserError):
    """A recipe or flag that is inconsistent or names something that does not exist."""


class WeightsError(UserError):
    """A weight file that cannot be loaded into the model."""
