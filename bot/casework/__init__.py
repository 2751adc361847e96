"""Caseworkers, invite codes and children's links: who a child's contact person is."""
