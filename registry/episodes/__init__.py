"""Treatment episodes: TDI admission records, events checked by the rule engine, compliance."""
