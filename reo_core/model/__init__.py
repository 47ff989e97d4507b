"""REO-VLM: the model of the paper on a Hugging Face LLaVA base (imports torch and transformers)."""
