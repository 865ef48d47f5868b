"""Generated documents: catalogues, archive dossiers and the annual report.

Renderers here take plain data (rows gathered by the service layer's read functions) and
return bytes or write files; they import no service code and write no database state."""
