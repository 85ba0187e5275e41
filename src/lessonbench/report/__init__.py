"""The report: figures, the context the template shows, the HTML and the PDF."""
