"""TF-IDF matching of funding calls against city projects and partner organisations."""
