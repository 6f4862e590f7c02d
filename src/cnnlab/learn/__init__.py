"""Learn: NumPy reference ops with traces, figures for every lecture idea, lesson helpers."""
