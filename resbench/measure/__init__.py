"""Measurements: complexity (analytic and fvcore), timing, environment."""
