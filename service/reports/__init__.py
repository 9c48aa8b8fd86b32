"""The official statistics tables (Tianjin Annexes 1-3), the Minhang 789 coverage and their
pictures, computed from the records in the database alone (no manual entry)."""
