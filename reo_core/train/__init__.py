"""Two-stage training of REO-VLM: `python -m reo_core.train --config FILE.yaml [key=value ...]`."""
