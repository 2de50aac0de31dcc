// Keeps amber_proto a valid library while proto/ is being filled.
