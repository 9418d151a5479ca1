"""The site's catalog: locker types and bank types, synced from the site file at start."""
