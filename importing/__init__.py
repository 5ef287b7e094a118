"""Pure reading of client data: field normalization, file sniffing, readers, header mapping."""
