"""Package data of reo_core (statistics, class tables); read with importlib.resources."""
