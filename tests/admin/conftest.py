import pytest

from tests.admin.kit import close_site, open_site


@pytest.fixture
async def site(tmp_path, database_url):
    site = await open_site(tmp_path, database_url)
    yield site
    await close_site(site)
