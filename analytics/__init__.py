"""Pure analytics on data frames: forecasts, cohorts, seasonality, risk. Never imports portal."""
