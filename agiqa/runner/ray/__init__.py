"""The Ray runner: one actor pool per pass, sized from the stage's declared resources."""
