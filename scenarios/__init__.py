"""Sample datasets and what-if scenarios built on the scheduler."""
