"""resbench search: the design space (space), Pareto sorting (pareto), early stopping (pruner) and the Optuna study (study)."""
