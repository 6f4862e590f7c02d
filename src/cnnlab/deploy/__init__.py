"""Deploy: prediction with a run's own input pipeline, evaluation, export."""
