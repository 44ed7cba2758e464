"""From a case's ``pipeline`` list to a checked, ordered plan of steps, before anything runs."""
