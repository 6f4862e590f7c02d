"""Training: the trainer and its events, callbacks, transfer learning, run directories, reports, jobs."""
