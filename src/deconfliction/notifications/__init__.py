"""Nobody left uninformed: planning, storing, escalating and delivering notifications."""
